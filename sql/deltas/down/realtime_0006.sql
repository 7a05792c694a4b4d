-- Undoes realtime_0006: read_batch() runs with the caller's JIT settings again.

alter function realtime.read_batch(jsonb) reset jit;
