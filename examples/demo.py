"""ldfast demo: evaluate flags from a local flag file (no LaunchDarkly account needed).

    make demo          # or: .venv/bin/python examples/demo.py [path/to/flags.json]
"""
import os
import sys

import ldfast
from ldfast.integrations import Files

HERE = os.path.dirname(os.path.abspath(__file__))

USERS = [
    {"key": "aa0ceb", "firstName": "Ernestina", "email": "ernestina@example.org"},
    {"key": "b7f1e2", "email": "sam@corp.test", "custom": {"groups": ["beta"]}},
    {"key": "c0ffee", "email": "kim@example.com", "custom": {"plan": "pro"}},
    {"key": "d00d", "anonymous": True},
]


def main() -> None:
    path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "flags.json")
    config = ldfast.Config("demo-sdk-key", update_processor_class=Files.new_data_source(paths=[path]),
                           send_events=False)
    client = ldfast.LDClient(config)
    print("ldfast %s (compiled extensions: %s), flags from %s\n" % (ldfast.VERSION, ldfast.extensions_enabled(), path))
    print("%-8s %-14s %-32s %-8s  %s" % ("user", "new-checkout", "banner-text", "upload", "reason for new-checkout"))
    for user in USERS:
        detail = client.variation_detail("new-checkout", user, False)
        print("%-8s %-14s %-32s %-8s  %s" % (
            user["key"], detail.value, client.variation("banner-text", user, "?"),
            client.variation("max-upload-mb", user, 10), detail.reason))
    state = client.all_flags_state(ldfast.Context.create("c0ffee"), with_reasons=True)
    print("\nall_flags_state for c0ffee:", state.to_json_string())
    client.close()


if __name__ == "__main__":
    main()
