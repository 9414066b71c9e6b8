from tests.e2e.conftest import serve, sqlite_url  # noqa: F401 (fixtures for the real-process tests here)
