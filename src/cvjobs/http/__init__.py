"""The HTTP layer: routing, content negotiation, the auth guard and error mapping."""
