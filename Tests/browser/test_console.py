"""Drives the web console in headless Chromium as a community worker, a grid worker and a resident.

Starts its own server on a fresh SQLite demo, so it needs only the built `linli` binary.
Screenshots (phone size, large print) go to .build/screenshots for a person to look at.
"""
import os, re, shutil, signal, socket, subprocess, sys, tempfile, time, traceback
from selenium import webdriver
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import WebDriverWait

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BIN = os.environ.get("LINLI_BIN") or os.path.join(ROOT, ".build", "debug", "linli")
SHOTS = os.path.join(ROOT, ".build", "screenshots")
PASSWORD = "browser-test-pw"


def free_port():
    s = socket.socket(); s.bind(("127.0.0.1", 0)); p = s.getsockname()[1]; s.close(); return p


def start_server():
    data = tempfile.mkdtemp(prefix="linli-browser-")
    env = dict(os.environ, LINLI_DATA_DIR=data, LINLI_BCRYPT_COST="4")
    env.pop("LINLI_DATABASE_URL", None)
    subprocess.run([BIN, "demo", "--seed", "7", "--password", PASSWORD], env=env, check=True, stdout=subprocess.DEVNULL)
    port = free_port()
    proc = subprocess.Popen([BIN, "serve", "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close(); break
        except OSError:
            time.sleep(0.1)
    return proc, port, data


def browser(width=390, height=844):
    o = webdriver.ChromeOptions()
    for a in ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", f"--window-size={width},{height}"]:
        o.add_argument(a)
    if os.path.exists("/usr/bin/chromium"):
        o.binary_location = "/usr/bin/chromium"
    service = webdriver.ChromeService(executable_path=shutil.which("chromedriver") or "/usr/bin/chromedriver")
    d = webdriver.Chrome(options=o, service=service)
    d.implicitly_wait(5)
    return d


def login(d, base, user):
    d.get(base + "/login")
    d.find_element(By.ID, "username").send_keys(user)
    d.find_element(By.ID, "password").send_keys(PASSWORD)
    d.find_element(By.ID, "login-submit").click()
    WebDriverWait(d, 10).until(lambda drv: "/login" not in drv.current_url, "login did not complete")


def wait_text(d, element_id, expected, timeout=10):
    """Waits until the element (on the page after a navigation) shows the expected text."""
    def ok(drv):
        try:
            return expected in drv.find_element(By.ID, element_id).text
        except Exception:
            return False
    WebDriverWait(d, timeout).until(ok, f"#{element_id} never showed {expected!r}")


def shot(d, name):
    os.makedirs(SHOTS, exist_ok=True)
    d.save_screenshot(os.path.join(SHOTS, name + ".png"))


RESULTS = []


def case(fn):
    RESULTS.append(fn)
    return fn


@case
def community_worker_browses_to_a_household_and_adds_a_resident(d, base):
    login(d, base, "community")
    assert "西林寺社区" in d.page_source, "community staff lands on their community"
    shot(d, "community-phone")
    d.find_element(By.PARTIAL_LINK_TEXT, "金桂苑").click()
    d.find_element(By.PARTIAL_LINK_TEXT, "1幢").click()
    d.find_element(By.PARTIAL_LINK_TEXT, "1单元").click()
    d.find_element(By.CSS_SELECTOR, "#households a").click()
    assert "百姓码" in d.page_source and "<svg" in d.page_source
    shot(d, "household-phone")
    household_url = d.current_url
    d.find_element(By.CSS_SELECTOR, "#residents a").click()
    assert re.fullmatch(r"\*{14}[0-9X]{4}", d.find_element(By.ID, "id-number").text), "ID numbers are masked"
    assert re.fullmatch(r"1[3-9][0-9]\*{4}[0-9]{4}", d.find_element(By.ID, "phone").text), "phones are masked"
    shot(d, "resident-phone")
    d.get(household_url)
    d.find_element(By.LINK_TEXT, "新增居民").click()
    d.find_element(By.ID, "name").send_keys("测试居民")
    d.find_element(By.ID, "id_number").send_keys("110105194912310021")  # wrong check digit
    d.find_element(By.ID, "phone").send_keys("12345")
    d.find_element(By.ID, "resident-save").click()
    wait_text(d, "id_number-error", "身份证号校验位不正确")
    assert "手机号" in d.find_element(By.ID, "phone-error").text
    assert d.find_element(By.ID, "name").get_attribute("value") == "测试居民", "typed values are kept"
    shot(d, "resident-form-errors-phone")
    idn = d.find_element(By.ID, "id_number"); idn.clear(); idn.send_keys("11010519491231002X")
    ph = d.find_element(By.ID, "phone"); ph.clear(); ph.send_keys("13812345678")
    d.find_element(By.CSS_SELECTOR, "#registration option[value=registered]").click()
    d.find_element(By.CSS_SELECTOR, "#relation option[value=family]").click()
    d.find_element(By.ID, "resident-save").click()
    wait_text(d, "id-number", "**************002X")
    assert d.find_element(By.ID, "phone").text == "138****5678"
    # Unmasking needs a reason and is audited.
    d.find_element(By.CSS_SELECTOR, "#unmask-form").find_element(By.XPATH, "..").find_element(By.TAG_NAME, "summary").click()
    d.find_element(By.CSS_SELECTOR, "#unmask-form button").click()
    wait_text(d, "reason-error", "事由")
    d.find_element(By.CSS_SELECTOR, "#unmask-form").find_element(By.XPATH, "..").find_element(By.TAG_NAME, "summary").click() if not d.find_element(By.ID, "reason").is_displayed() else None
    d.find_element(By.ID, "reason").send_keys("入户走访核实联系方式")
    d.find_element(By.CSS_SELECTOR, "#unmask-form button").click()
    wait_text(d, "id-number", "11010519491231002X")
    assert d.find_element(By.ID, "phone").text == "13812345678"
    # Search by phone finds the new resident.
    d.get(base + "/search?q=13812345678")
    wait_text(d, "results", "测试居民")


@case
def large_print_and_english(d, base):
    login(d, base, "resident")
    d.find_element(By.LINK_TEXT, "大字").click()
    assert "large" in d.find_element(By.TAG_NAME, "body").get_attribute("class")
    shot(d, "resident-large-print-phone")
    d.find_element(By.LINK_TEXT, "English").click()
    assert "Residents" in d.page_source
    d.get(base + "/prefs?lang=zh")


@case
def auditor_sees_unmask_entries_and_coverage(d, base):
    login(d, base, "auditor")
    d.find_element(By.LINK_TEXT, "审计日志").click()
    wait_text(d, "audit", "resident.unmask")
    d.find_element(By.LINK_TEXT, "覆盖情况").click()
    text = d.find_element(By.ID, "coverage").text
    assert "湖滨街道" in text or "西林寺社区" in text
    shot(d, "coverage-phone")


@case
def grid_worker_cannot_open_another_grid_household(d, base):
    login(d, base, "grid")
    d.get(base + "/households/7000")
    assert "未找到" in d.page_source
    d.get(base + "/audit")
    assert "没有权限" in d.page_source


def main():
    proc, port, data = start_server()
    base = f"http://127.0.0.1:{port}"
    passed = failed = 0
    try:
        for fn in RESULTS:
            d = browser()
            try:
                fn(d, base)
                passed += 1
                print(f"ok   {fn.__name__}")
            except Exception:
                failed += 1
                print(f"FAIL {fn.__name__}")
                traceback.print_exc()
                shot(d, "FAIL-" + fn.__name__)
            finally:
                d.quit()
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=10)
        shutil.rmtree(data, ignore_errors=True)
    print(f"browser: {passed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
