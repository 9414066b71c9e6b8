from entitle.cli import app

app()
