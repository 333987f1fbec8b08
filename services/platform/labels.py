"""Words every output shares. Pure constants, importable from any layer."""

# Every message, event, chart and verdict that comes from the offline sandbox carries this, so nobody
# mistakes simulated numbers for a real run (DESIGN §8).
SANDBOX_LABEL = "sandbox: simulated results"
