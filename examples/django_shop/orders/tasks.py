"""The shop's rota tasks. ``settings.ROTA["APP"]`` names this App, and rota.contrib.django
points it at ``ROTA["STORE_URL"]``; ``manage.py rota_worker`` runs them."""

import rota

app = rota.App()


@app.task(retry=rota.RetryPolicy(attempts=5))
def send_receipt(order_id: int) -> None:
    """A plain def: the worker runs it in a thread, where the ORM works as in a view. The
    job is queued only once the order is committed, so the order is always there."""
    from orders.models import Order

    order = Order.objects.get(pk=order_id)
    # stands for the email; one write per line, as tasks run in several threads at once
    print(f"receipt for order {order.pk} sent to {order.email}\n", end="", flush=True)
    Order.objects.filter(pk=order.pk).update(status="receipt sent")
