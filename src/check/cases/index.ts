// Every case of the checker, in the order they run.

import type { Case } from "../scenario.ts";
import { CONNECTION_CASES } from "./connections.ts";
import { DURABILITY_CASES } from "./durability.ts";
import { LINE_CASES } from "./lines.ts";
import { LOG_CASES } from "./log.ts";
import { REPORT_CASES } from "./reports.ts";
import { TERMINATE_CASES } from "./terminate.ts";
import { THROUGHPUT_CASES } from "./throughput.ts";

export const ALL_CASES: Case[] = [
  ...CONNECTION_CASES,
  ...LINE_CASES,
  ...LOG_CASES,
  ...REPORT_CASES,
  ...TERMINATE_CASES,
  ...DURABILITY_CASES,
  ...THROUGHPUT_CASES,
];
