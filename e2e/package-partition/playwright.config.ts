import { defineConfig } from '@playwright/test';

export default defineConfig({
  testMatch: '*.pw.ts',
  workers: 1,
  timeout: 120_000,
  reporter: [['list']],
});
