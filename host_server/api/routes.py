"""The route table: every path the meta server answers, and who answers it."""

from ..dashboard import manage as forms
from ..dashboard import views as pages
from ..dashboard.setup import setup_dashboard
from . import device, monitoring, openapi, owner, secure


def setup_routes(app):
    r = app.router
    # devices
    r.add_post("/api/v1/login/challenge", device.login_challenge)
    r.add_post("/api/v1/login", device.login)
    r.add_get("/api/v1/programs", device.programs)
    r.add_post("/api/v1/programs/select", device.select_program)
    r.add_get("/api/v1/next", device.next_item)
    r.add_get("/api/v1/horizon", device.horizon)
    r.add_get("/api/v1/media/{id}", device.media)
    r.add_post("/api/v1/media/{id}/key", secure.media_key)
    r.add_post("/api/v1/report", device.report)
    r.add_post("/api/v1/reports", device.reports)
    r.add_post("/api/v1/playing", device.playing)
    # owners
    r.add_get("/api/v1/owner", owner.whoami)
    r.add_get("/api/v1/owner/media", owner.list_media)
    r.add_post("/api/v1/owner/media", owner.register)
    r.add_get("/api/v1/owner/media/{id}", owner.get_media)
    r.add_patch("/api/v1/owner/media/{id}", owner.update)
    r.add_delete("/api/v1/owner/media/{id}", owner.remove)
    r.add_get("/api/v1/owner/usage", owner.usage)
    r.add_get("/api/v1/owner/servers", owner.list_servers)
    r.add_post("/api/v1/owner/signing", owner.require_signing)
    r.add_delete("/api/v1/owner/signing", owner.stop_signing)
    r.add_get("/api/v1/owner/weights", owner.list_weights)
    r.add_put("/api/v1/owner/weights", owner.set_weight)
    r.add_delete("/api/v1/owner/weights", owner.unset_weight)
    # everyone
    r.add_get("/api/v1/openapi.yaml", openapi.openapi)
    r.add_get("/", pages.root)
    # monitoring: Prometheus, for the networks of settings.metrics_nets
    r.add_get("/metrics", monitoring.metrics)
    # operators: the dashboard's pages and forms, and its JSON
    setup_dashboard(app)
    for path in ("/dashboard", "/dashboard/"):
        r.add_get(path, pages.home)
    r.add_get("/dashboard/login", pages.login_page)
    r.add_post("/dashboard/login", pages.login)
    r.add_post("/dashboard/logout", pages.logout)
    r.add_get("/dashboard/overview", pages.overview)
    r.add_get("/dashboard/devices", pages.devices)
    r.add_post("/dashboard/devices", forms.add_device)
    r.add_get("/dashboard/devices/{id}", pages.device)
    r.add_post("/dashboard/devices/{id}/edit", forms.edit_device)
    r.add_post("/dashboard/devices/{id}/assign", forms.device_assign)
    r.add_post("/dashboard/devices/{id}/unassign", forms.device_unassign)
    r.add_post("/dashboard/devices/{id}/state", forms.device_state)
    r.add_post("/dashboard/devices/{id}/remove", forms.remove_device)
    r.add_get("/dashboard/programs", pages.programs)
    r.add_post("/dashboard/programs", forms.create_program)
    r.add_post("/dashboard/programs/{id}/rename", forms.rename_program)
    r.add_post("/dashboard/programs/{id}/move", forms.move_item)
    r.add_post("/dashboard/programs/{id}/items", forms.add_item)
    r.add_post("/dashboard/programs/{id}/items/remove", forms.remove_item)
    r.add_post("/dashboard/programs/{id}/assign", forms.assign)
    r.add_post("/dashboard/programs/{id}/remove", forms.remove_program)
    r.add_get("/dashboard/media", pages.media)
    r.add_post("/dashboard/media", forms.add_media)
    r.add_get("/dashboard/media/{id}", pages.media_item)
    r.add_post("/dashboard/media/{id}/edit", forms.edit_media)
    r.add_post("/dashboard/media/{id}/remove", forms.remove_media)
    r.add_get("/dashboard/owners", pages.owners)
    r.add_post("/dashboard/owners", forms.add_owner)
    r.add_post("/dashboard/owners/{id}/rename", forms.rename_owner)
    r.add_post("/dashboard/owners/{id}/token", forms.owner_token)
    r.add_post("/dashboard/owners/{id}/revoke", forms.revoke_owner)
    r.add_post("/dashboard/owners/{id}/remove", forms.remove_owner)
    r.add_get("/dashboard/servers", pages.servers)
    r.add_get("/dashboard/reports", pages.reports)
    r.add_get("/dashboard/usage", pages.usage_page)
    r.add_get("/dashboard/usage.csv", pages.usage_csv)
    r.add_get("/api/v1/operator/devices", pages.devices_json)
    r.add_get("/api/v1/operator/lists/{what}", pages.list_json)
