import json

from django.db import transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from rota.contrib.django import enqueue_on_commit, sync_app

from orders.models import Order
from orders.tasks import send_receipt


class PaymentDeclined(Exception):
    pass


@csrf_exempt  # an API for the example's curl calls; keep CSRF on for browser forms
@require_POST
def place_order(request: HttpRequest) -> JsonResponse:
    data = json.loads(request.body)
    try:
        with transaction.atomic():
            order = Order.objects.create(email=data["email"])
            # queued when this transaction commits; never if it rolls back
            enqueue_on_commit(send_receipt, order.pk)
            if data.get("card") == "declined":  # a later step fails: no order, no receipt
                raise PaymentDeclined
    except PaymentDeclined:
        return JsonResponse({"error": "payment declined"}, status=402)
    return JsonResponse({"order": order.pk}, status=201)


@require_GET
def show_order(request: HttpRequest, order_id: int) -> JsonResponse:
    order = Order.objects.filter(pk=order_id).first()
    if order is None:
        return JsonResponse({"error": f"no order {order_id}"}, status=404)
    return JsonResponse({"order": order.pk, "email": order.email, "status": order.status})


@require_GET
def queue(request: HttpRequest) -> JsonResponse:
    """The jobs by status, through rota's blocking facade (a sync view)."""
    stats = sync_app().stats()
    return JsonResponse({str(status): count for status, count in stats.counts.get("default", {}).items()})
