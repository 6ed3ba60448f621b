"""HTTP with a Scope server: one exchange with retries (:mod:`lab.http.exchange`), and the
classification of what went wrong, without an answer (:mod:`lab.http.transport_failures`)
or with one (:mod:`lab.http.response_failures`), into the errors of :mod:`lab.errors`.
"""

from lab.http.exchange import DEFAULT_TIMEOUT, Exchange, RetryPolicy

__all__ = ["RetryPolicy", "DEFAULT_TIMEOUT", "Exchange"]
