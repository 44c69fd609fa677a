"""Settings package: ``base`` holds everything, the other modules set the deployment mode.

- ``development`` (default for ``manage.py``): DEBUG on, embedded defaults, no services needed.
- ``production``: every secret required, HTTPS-only cookies; ``check --deploy`` passes.
- ``test``: used by pytest; fast password hashing, Celery tasks run eagerly unless a test says so.
"""
