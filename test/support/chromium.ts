import { type Browser, chromium } from 'playwright-core';

/**
 * Headless Chromium for a browser test (`executablePath`: the prerequisite's path): no sandbox
 * (containers), no GPU, and nothing it would fetch for itself (updates, first-run pages).
 */
export function launchChromium(executablePath: string | undefined): Promise<Browser> {
  return chromium.launch({
    executablePath,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--no-first-run',
    ],
  });
}
