"""The home page sends each user to the place their role works from."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect

from konsil.accounts.roles import Role


@login_required
def home(request):
    user = request.user
    if user.has_role(Role.COORDINATOR):
        return redirect("cases:queue")
    if user.has_role(Role.SPECIALIST, Role.PANEL_CHAIR):
        return redirect("opinions:workspace")
    if user.has_role(Role.AUDITOR):
        return redirect("audit:trail")
    if user.has_role(Role.ORG_ADMIN) or user.is_staff:
        return redirect("admin:index")
    if user.has_role(Role.PAYER_ADMIN, Role.EMPLOYER_ADMIN):
        return redirect("cases:program")
    return redirect("cases:mine")
