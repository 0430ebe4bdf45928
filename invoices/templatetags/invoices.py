"""{% vat_at_checkout package %}: whether a package's price includes VAT, and what the client pays."""

from django import template

from invoices import selectors

register = template.Library()


@register.inclusion_tag("invoices/_vat_at_checkout.html", takes_context=True)
def vat_at_checkout(context, package, link=True):
    request = context["request"]
    organization = request.user.organization
    terms = selectors.checkout_terms(agency=request.agency, organization=organization, price_cents=package.price_cents)
    return {"terms": terms, "currency": package.currency, "link": link}
