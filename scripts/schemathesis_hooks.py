"""Extra check for scripts/schemathesis.sh (loaded through SCHEMATHESIS_HOOKS).

The gateway answers 499 CANCELLED when the gRPC stream to a service is reset.
Schemathesis never cancels a request, so a 499 means the service dropped the
call, typically a handler that panicked; not_a_server_error misses it because
499 is not a 5xx.
"""
import schemathesis


@schemathesis.check
def no_upstream_reset(ctx, response, case):
    if response.status_code == 499:
        raise AssertionError(
            "499 CANCELLED without a client cancel: the service reset the stream "
            f"(look for a panic in its log): {response.text[:200]}"
        )
