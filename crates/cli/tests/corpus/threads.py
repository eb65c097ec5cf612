import threading
import time


def worker(n):
    time.sleep(0.1 + 0.1 * n)
    print("worker", n, "done", flush=True)


for n in range(3):
    threading.Thread(target=worker, args=(n,)).start()
threading.Thread(target=time.sleep, args=(60,), daemon=True).start()
print("main thread ends first")
