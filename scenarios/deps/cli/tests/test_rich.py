from rich.console import Console
from rich.table import Table


def test_rich_renders_a_table():
    table = Table(title="Caches")
    table.add_column("scenario")
    table.add_column("seconds", justify="right")
    table.add_row("pip-cache", "12.5")
    console = Console(record=True, width=60)
    console.print(table)
    text = console.export_text()
    assert "pip-cache" in text and "12.5" in text
