"""rota.contrib.django under Django's own test runner (``manage.py test orders``), on the
database the settings name (SQLite or PostgreSQL). TransactionTestCase: these tests need real
commits and rollbacks, which TestCase's wrapping transaction would hide."""

import uuid

from django.db import transaction
from django.test import TransactionTestCase

import rota
from orders.models import Order
from orders.tasks import app, send_receipt
from rota.contrib.django import enqueue_on_commit, get_app, sync_app


def jobs_for(key: str) -> list[rota.Job]:
    """The jobs queued with ``key`` (each test uses fresh keys, the store is shared)."""
    return [job for job in sync_app().list_jobs(task=send_receipt.name, limit=10_000) if job.key == key]


class EnqueueOnCommitTests(TransactionTestCase):
    def setUp(self) -> None:
        self.key = f"receipt:{uuid.uuid4().hex}"

    def test_the_job_is_queued_when_the_transaction_commits_and_not_before(self) -> None:
        with transaction.atomic():
            order = Order.objects.create(email="ada@example.com")
            enqueue_on_commit(send_receipt, order.pk, key=self.key)
            self.assertEqual(jobs_for(self.key), [])  # not yet: the order is not committed
        [job] = jobs_for(self.key)
        self.assertEqual((job.status, send_receipt.decode(job.payload)), (rota.JobStatus.PENDING, order.pk))

    def test_a_rolled_back_transaction_queues_nothing(self) -> None:
        with self.assertRaises(RuntimeError), transaction.atomic():
            order = Order.objects.create(email="bob@example.com")
            enqueue_on_commit(send_receipt, order.pk, key=self.key)
            raise RuntimeError("payment declined")
        self.assertFalse(Order.objects.exists())
        self.assertEqual(jobs_for(self.key), [])

    def test_a_rolled_back_savepoint_drops_only_its_own_jobs(self) -> None:
        inner = f"{self.key}:inner"
        with transaction.atomic():
            enqueue_on_commit(send_receipt, 1, key=self.key)
            try:
                with transaction.atomic():
                    enqueue_on_commit(send_receipt, 2, key=inner)
                    raise RuntimeError("inner step failed")
            except RuntimeError:
                pass
        self.assertEqual(len(jobs_for(self.key)), 1)
        self.assertEqual(jobs_for(inner), [])

    def test_outside_a_transaction_the_job_is_queued_at_once(self) -> None:
        enqueue_on_commit(send_receipt, 7, key=self.key, delay=60)
        [job] = jobs_for(self.key)
        self.assertGreater(job.due_at, job.created_at)

    def test_bad_input_raises_inside_the_transaction(self) -> None:
        with self.assertRaises(rota.PayloadError), transaction.atomic():
            enqueue_on_commit(send_receipt, "not an order id")  # type: ignore[arg-type]
        with self.assertRaises(rota.TaskNotFound):
            enqueue_on_commit("no_such_task", 1)
        with self.assertRaises(rota.ConfigError):
            enqueue_on_commit(send_receipt, 1, when="later")  # type: ignore[call-arg]
        self.assertEqual(jobs_for(self.key), [])

    def test_a_task_by_name_and_on_another_alias(self) -> None:
        with transaction.atomic(using="default"):
            enqueue_on_commit(send_receipt.name, 3, using="default", key=self.key)
        self.assertEqual(len(jobs_for(self.key)), 1)


class WiringTests(TransactionTestCase):
    def test_the_app_is_the_projects_pointed_at_the_configured_store(self) -> None:
        from django.conf import settings

        self.assertIs(get_app(), app)
        self.assertEqual(app.config.store_url, settings.ROTA["STORE_URL"])
        self.assertIs(sync_app(), sync_app())  # one facade per process

    def test_the_sync_facade_enqueues_and_reads_jobs(self) -> None:
        job = sync_app().enqueue(send_receipt, 5)
        self.assertEqual(sync_app().get_job(job.id).status, rota.JobStatus.PENDING)
        self.assertEqual(sync_app().cancel(job.id).status, rota.JobStatus.CANCELLED)

    def test_the_task_runs_against_the_test_database(self) -> None:
        order = Order.objects.create(email="cy@example.com")
        self.assertEqual(send_receipt(order.pk), "cy@example.com")  # a task is callable directly
        self.assertEqual(Order.objects.get(pk=order.pk).status, "receipt sent")
