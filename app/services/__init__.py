"""Services: the logic between the wire and the engine. They take a SQLAlchemy session and
never commit; the caller owns the transaction."""
