"""Evaluates batches of cases for test_twins.py in a separate process (whichever twin it loads).

Protocol: length-prefixed pickles on stdin/stdout. A request is
``(flags, segments, [(flag_key, context_dict_or_value, default), ...], [(key, salt, seed, value), ...])``;
the answer is ``(implementation, [repr((value, index, reason)), ...], repr(all_flags_state json) per context,
[repr(bucket), ...])``.
"""
import logging
import os
import pickle
import struct
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))



def evaluate_batch(flags, segments, cases, buckets):
    import ldfast
    from ldfast._ext.bucketing import bucket_prefix, bucket_value
    from tests.helpers import local_client

    client = local_client(flags, segments)
    try:
        results = []
        states = []
        seen = set()
        for key, context, default in cases:
            try:
                d = client.variation_detail(key, context, default)
                results.append(repr((d.value, d.variation_index, d.reason)))
            except BaseException as e:  # must never happen: reported as a difference
                results.append("RAISED %s" % type(e).__name__)
            if id(context) not in seen:
                seen.add(id(context))
                try:
                    states.append(repr(client.all_flags_state(context, with_reasons=True).to_json_dict()))
                except BaseException as e:
                    states.append("RAISED %s" % type(e).__name__)
        bucket_out = []
        for key, salt, seed, value in buckets:
            try:
                bucket_out.append(repr(bucket_value(bucket_prefix(key, salt, seed), value)))
            except BaseException as e:
                bucket_out.append("RAISED %s" % type(e).__name__)
        return ("c" if ldfast.extensions_enabled() else "py", results, states, bucket_out)
    finally:
        client.close()


def main():
    logging.disable(logging.CRITICAL)
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    while True:
        header = stdin.read(4)
        if len(header) < 4:
            return
        (size,) = struct.unpack(">I", header)
        request = pickle.loads(stdin.read(size))
        answer = pickle.dumps(evaluate_batch(*request))
        stdout.write(struct.pack(">I", len(answer)) + answer)
        stdout.flush()


if __name__ == "__main__":
    main()
