"""The simulator's ground truth as the accuracy tests and benchmarks read it.

Written apart from the measuring code in :mod:`lab.measure`, so that a fault there is not
copied into what it is checked against: :mod:`tests.truth.accuracy` (which output frame
answers a stimulus, when each sent frame arrived, latency minus the simulator's internal
delay) and :mod:`tests.truth.sent_rates` (fps, warm-up and stalls of what the simulator sent).
"""
