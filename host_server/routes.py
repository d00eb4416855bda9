from . import apidoc, health_views, secure_views, views
from .dashboard.setup import setup_dashboard
from .owner_views import setup_owner_routes


def setup_routes(app):
    app.router.add_post("/api/v1/login/challenge", views.login_challenge)
    app.router.add_post("/api/v1/login", views.login)
    app.router.add_get("/api/v1/programs", views.programs)
    app.router.add_post("/api/v1/programs/select", views.select_program)
    app.router.add_get("/api/v1/next", health_views.next_item)
    app.router.add_get("/api/v1/media/{id}", views.media)
    app.router.add_post("/api/v1/media/{id}/key", secure_views.media_key)
    app.router.add_post("/api/v1/report", health_views.report)
    app.router.add_get("/api/v1/openapi.yaml", apidoc.openapi)
    setup_owner_routes(app)
    setup_dashboard(app)
