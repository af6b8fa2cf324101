import typer
from typer.testing import CliRunner


def test_typer_app_runs():
    app = typer.Typer()

    @app.command()
    def add(a: int, b: int):
        print(a + b)

    result = CliRunner().invoke(app, ["2", "40"])
    assert result.exit_code == 0
    assert result.output.strip() == "42"
