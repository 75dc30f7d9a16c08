"""The baseline for the receiver benchmark: a bare Flask endpoint that reads the body and
answers 202, served by the same gunicorn settings as the receiver. Never used by product code."""

from flask import Flask, request

app = Flask(__name__)


@app.post("/api/v1/webhooks/<provider>/<integration_id>")
def hello(provider: str, integration_id: str):
    request.get_data()
    return {"accepted": 1, "duplicates": 0}, 202
