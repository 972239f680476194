#!/usr/bin/python3
"""Opens every page of the built site in headless Chromium and fails on console messages
(script errors, resources that do not load), on math KaTeX did not render, and on broken links
to local files. Saves screenshots of the index and of the Fashion-MNIST example next to the site.

    check_site.py SITE_DIR CHROMIUM
"""
import re
import subprocess
import sys
import tempfile
from pathlib import Path

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
         "--disable-extensions", "--allow-file-access-from-files", "--hide-scrollbars"]


def chromium(browser, profile, *args):
    return subprocess.run([browser, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True, timeout=180)


def main():
    site, browser = Path(sys.argv[1]).resolve(), sys.argv[2]
    pages = sorted(site.glob("*.html")) + [site / "api" / "index.html"]
    problems = []
    with tempfile.TemporaryDirectory() as profile:
        for page in pages:
            if not page.is_file():
                problems.append(f"{page}: missing")
                continue
            r = chromium(browser, profile, "--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom",
                         page.as_uri())
            name = page.relative_to(site)
            if r.returncode != 0 or "</html>" not in r.stdout:
                problems.append(f"{name}: chromium failed ({r.returncode}): {r.stderr[-500:]}")
                continue
            for line in r.stderr.splitlines():
                if "CONSOLE" in line or "Uncaught" in line or "ERR_FILE_NOT_FOUND" in line:
                    problems.append(f"{name}: console: {line.strip()}")
            dom = r.stdout
            if "katex-error" in dom:
                problems.append(f"{name}: KaTeX could not render a formula")
            text = re.sub(r"<annotation[^>]*>.*?</annotation>", "", dom, flags=re.S)
            text = re.sub(r"<(pre|code)[^>]*>.*?</\1>", "", text, flags=re.S)
            text = re.sub(r"<script[^>]*>.*?</script>", "", text, flags=re.S)
            for raw in ("$$", "\\begin{", "\\frac", "\\operatorname", "\\overline"):
                if raw in text:
                    problems.append(f"{name}: unrendered math ({raw!r} in the page's text)")
            if page.parent == site:
                for link in re.findall(r'(?:src|href)="([^"#:]+)(?:#[^"]*)?"', dom):
                    if not (page.parent / link).exists():
                        problems.append(f"{name}: broken link {link}")
                if "KINK" in text and re.search(r"KINK(MATH|CODE)\d+X", text):
                    problems.append(f"{name}: a build placeholder is left in the page")
            print(f"ok  {name}" if not any(p.startswith(f"{name}:") for p in problems) else f"BAD {name}")
        shots = site.parent / "screenshots"
        shots.mkdir(exist_ok=True)
        for page, size in (("index.html", "1280,1400"), ("example-fashion-mnist.html", "1280,2400")):
            out = shots / page.replace(".html", ".png")
            r = chromium(browser, profile, f"--screenshot={out}", f"--window-size={size}", "--virtual-time-budget=5000",
                         (site / page).as_uri())
            if not out.is_file() or out.stat().st_size < 10000:
                problems.append(f"screenshot of {page} failed: {r.stderr[-300:]}")
            else:
                print(f"screenshot {out} ({out.stat().st_size} bytes)")
    for p in problems:
        print(p)
    print(f"{len(pages)} pages checked, {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
