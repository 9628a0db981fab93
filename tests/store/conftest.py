from tests.store.loop import event_loop_per_test

__all__ = ["event_loop_per_test"]
