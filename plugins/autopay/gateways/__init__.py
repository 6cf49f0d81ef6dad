"""The payment gateways that ship with autopay, and the shape every gateway has (`base`)."""
