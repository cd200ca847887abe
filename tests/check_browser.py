"""Say loudly, before the suite runs, whether the browser tests will run."""

import shutil

path = shutil.which("chromium") or shutil.which("chromium-browser")
if path:
    print(f"browser tests: ON (chromium at {path})")
else:
    bar = "!" * 78
    print(f"{bar}\n!! browser tests: SKIPPED - no chromium found. Install Debian's chromium "
          f"(apt-get install chromium)\n!! to run the Playwright journey; .ci/run installs it.\n{bar}")
