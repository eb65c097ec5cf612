import time

print("ready", flush=True)
try:
    time.sleep(30)
finally:
    print("finally block ran", flush=True)
