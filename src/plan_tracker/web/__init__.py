"""The unit portal and the API (FastAPI). Build the application with `create_app()`;
importing these modules builds nothing."""
