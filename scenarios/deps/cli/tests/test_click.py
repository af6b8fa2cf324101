import click
from click.testing import CliRunner


def test_click_command_runs():
    @click.command()
    @click.option("--count", default=2)
    @click.argument("name")
    def hello(count, name):
        for _ in range(count):
            click.echo(f"Hello {name}")

    result = CliRunner().invoke(hello, ["--count", "3", "bench"])
    assert result.exit_code == 0
    assert result.output.count("Hello bench") == 3
