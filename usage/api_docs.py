"""The OpenAPI document of /api/v1/ (docs/openapi.yaml), served as it is, without a key."""

from functools import cache

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt

from .api import error_response

DOCUMENT = settings.BASE_DIR / "docs" / "openapi.yaml"


@cache
def _document() -> bytes:
    # Read once per process: the file only changes with a deploy, which restarts the workers.
    return DOCUMENT.read_bytes()


@csrf_exempt
def openapi_document(request):
    if request.method != "GET":
        return error_response(405, "method_not_allowed", "Use GET here.", {"Allow": "GET"})
    return HttpResponse(_document(), content_type="application/yaml")
