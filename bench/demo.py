"""The app every benchmark measures: a temporary SQLite database loaded with the demo."""
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def demo_app():
    """(app, folder): the app on a fresh demo database kept in `folder`."""
    folder = tempfile.mkdtemp(prefix="qms-bench-")
    os.environ["QMS_INSTANCE_DIR"] = folder
    from app import create_app

    app = create_app({"SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder}/bench.db", "AUTH_RATE_LIMITED": False})
    runner = app.test_cli_runner()
    for command in (["qms", "setup"], ["qms", "demo"]):
        assert runner.invoke(args=command).exit_code == 0
    return app, folder
