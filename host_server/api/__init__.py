"""The HTTP API under /api/v1: the route table (routes), what every handler shares (middleware:
errors as JSON; inputs: the body, its fields, bearer tokens, ids), and one module per audience:
device (login, programs, next, media, report), secure (a secure item's key), owner (the owner
API), openapi (the API's description)."""
