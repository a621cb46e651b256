/**
 * A real browser for tests: Debian's Chromium (installed by .ci/run; `apt-get install chromium`
 * for developers) driven by playwright-core. Collects console errors and failed requests, and
 * saves screenshots under test-artifacts/ (ignored by git).
 */
import { mkdirSync } from "node:fs";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";
import { REPO } from "./paths.js";

export const CHROMIUM = process.env.CIVITAS_CHROMIUM ?? "/usr/bin/chromium";
export const ARTIFACTS = path.join(REPO, "test-artifacts");

export async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--no-first-run", "--disable-quic", "--disable-sync"],
  });
}

export interface WatchedPage {
  readonly page: Page;
  /** Console messages of type error, and uncaught page errors. */
  readonly errors: string[];
  /** Requests that failed, and any request that left the machine (a report must need none). */
  readonly failed: string[];
}

export async function openPage(browser: Browser, url: string): Promise<WatchedPage> {
  const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
  const errors: string[] = [];
  const failed: string[] = [];
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(m.text());
  });
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("requestfailed", (r) => failed.push(`${r.url()}: ${r.failure()?.errorText ?? "failed"}`));
  page.on("request", (r) => {
    const u = r.url();
    if (!u.startsWith("file:") && !u.startsWith("data:") && !/^https?:\/\/(127\.0\.0\.1|localhost)[:/]/u.test(u)) failed.push(`${u}: left the machine`);
  });
  await page.goto(url, { waitUntil: "load" });
  return { page, errors, failed };
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const file = path.join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
