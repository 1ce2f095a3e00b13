"""The runtime: worker, scheduler, leader election and locks, built on the Store interface."""
