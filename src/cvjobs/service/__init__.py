"""Domain services: the rules between the HTTP layer and the store."""
