"""WSGI entry point: ``gunicorn wsgi:app`` (see gunicorn.conf.py), or ``python wsgi.py`` for a
quick look with Flask's development server on $PORT (default 7860)."""

from app import create_app

app = create_app()

if __name__ == "__main__":
    app.run(host="127.0.0.1", port=app.config["PORT"], threaded=True)
