"""twilio-python's RequestValidator.validate on the webhook of crates/twilio-sig/benches/validate.rs.

Prints validations per second (best of 5 runs of 20,000 validations).
"""

import timeit

from twilio.request_validator import RequestValidator

TOKEN = "0123456789abcdef0123456789abcdef"
URL = "https://ai.example.com/webhook/incoming_call"
PARAMS = {
    "AccountSid": "ACf0a1b2c3d4e5f60718293a4b5c6d7e8f",
    "ApiVersion": "2010-04-01",
    "CallSid": "CA9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d",
    "CallStatus": "ringing",
    "CallToken": "%7B%22parentCallInfoToken%22%3A%22eyJhbGciOiJFUzI1NiJ9%22%7D",
    "Called": "+97235551234",
    "CalledCity": "",
    "CalledCountry": "IL",
    "CalledState": "",
    "CalledZip": "",
    "Caller": "+972525551234",
    "CallerCity": "",
    "CallerCountry": "IL",
    "CallerState": "",
    "CallerZip": "",
    "Direction": "inbound",
    "From": "+972525551234",
    "FromCity": "",
    "FromCountry": "IL",
    "To": "+97235551234",
    "ToCountry": "IL",
}

validator = RequestValidator(TOKEN)
signature = validator.compute_signature(URL, PARAMS)
assert validator.validate(URL, PARAMS, signature)
N = 20_000
best = min(timeit.repeat(lambda: validator.validate(URL, PARAMS, signature), number=N, repeat=5))
print(f"twilio-python validate ({len(PARAMS)} params): {best / N * 1e6:.2f} µs/validation, "
      f"{N / best:,.0f} validations/s")
