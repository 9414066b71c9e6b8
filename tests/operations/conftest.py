from tests.e2e.conftest import postgres_url, serve, sqlite_url  # noqa: F401 (fixtures for the real-process tests here)
