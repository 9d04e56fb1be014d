"""Wire shapes shared by the server and its clients (the worker agent, the user API)."""
