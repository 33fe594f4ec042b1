"""CLI commands beyond grading, each module registering its own Typer commands on the app."""
