"""The project's rota tasks. ``settings.ROTA["APP"]`` names this App; rota.contrib.django points
it at ``ROTA["STORE_URL"]``."""

import rota

app = rota.App()


@app.task
def send_receipt(order_id: int) -> str:
    """A plain def: the worker runs it in a thread, where the ORM works as in a view."""
    from orders.models import Order

    order = Order.objects.get(pk=order_id)
    Order.objects.filter(pk=order_id).update(status="receipt sent")
    print(f"receipt sent for order {order_id} to {order.email}\n", end="", flush=True)  # one write
    return order.email
