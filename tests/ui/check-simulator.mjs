// Checks the Simulator page's pure functions (simulator.js) and the language helper (util.js):
// `node tests/ui/check-simulator.mjs`. Prints "ok: N checks" and exits 0, or throws at the first
// wrong answer.

import assert from "node:assert/strict";
import {
  FIELD_DEFS,
  chartScale,
  crossing,
  fieldMessage,
  fmtMoney,
  fmtMoneyShort,
  fmtNumber,
  inputText,
  paybackText,
  parseNumberField,
  simBody,
  withUnit,
} from "../../app/ui/simulator.js";
import { getLang, langFromNavigator } from "../../app/ui/util.js";

import { check, done } from "./harness.mjs";

const NBSP = "\u00a0";
const EN = { never: "never at these figures", days: "days", months: "months" };
const JA = { never: "この数値では回収できません", days: "日", months: "か月" };

check("money as core/src/simulate.rs Currency::format writes it", () => {
  assert.equal(fmtMoney(1240.4, "USD"), "$1,240");
  assert.equal(fmtMoney(160000, "JPY"), "¥160,000");
  assert.equal(fmtMoney(1234567.5, "JPY"), "¥1,234,568");
  assert.equal(fmtMoney(0, "USD"), "$0");
  assert.equal(fmtMoney(-300.2, "USD"), "-$300");
  assert.equal(fmtMoney(-0.3, "USD"), "$0");
  assert.equal(fmtMoney(999.5, "USD"), "$1,000");
  assert.equal(fmtMoney(null, "USD"), "—");
  assert.equal(fmtMoney(Number.NaN, "JPY"), "—");
  assert.equal(fmtMoney(5, "EUR"), "EUR 5");
});

check("money on the chart's axis", () => {
  assert.equal(fmtMoneyShort(900, "USD"), "$900");
  assert.equal(fmtMoneyShort(1500, "USD"), "$1.5k");
  assert.equal(fmtMoneyShort(240000, "JPY"), "¥240k");
  assert.equal(fmtMoneyShort(1200000, "JPY"), "¥1.2M");
  assert.equal(fmtMoneyShort(-2000, "USD"), "-$2k");
  assert.equal(fmtMoneyShort(0, "USD"), "$0");
});

check("numbers and units", () => {
  assert.equal(fmtNumber(1234.56, 1), "1,234.6");
  assert.equal(fmtNumber(3, 1, 1), "3.0");
  assert.equal(fmtNumber(-0.04, 1), "0");
  assert.equal(fmtNumber(undefined), "—");
  assert.equal(withUnit("3.1", "h", "en"), `3.1${NBSP}h`);
  assert.equal(withUnit("3.1", "時間", "ja"), "3.1時間");
  assert.equal(withUnit("3.1", "", "en"), "3.1");
});

check("payback: days below 60, months from 60, never when null", () => {
  assert.equal(paybackText(14, EN, "en"), `14.0${NBSP}days`);
  assert.equal(paybackText(0, EN, "en"), `0.0${NBSP}days`);
  assert.equal(paybackText(59.94, EN, "en"), `59.9${NBSP}days`);
  assert.equal(paybackText(60, EN, "en"), `2.0${NBSP}months`);
  assert.equal(paybackText(90, EN, "en"), `3.0${NBSP}months`);
  assert.equal(paybackText(91.5, EN, "en"), `3.1${NBSP}months`);
  assert.equal(paybackText(null, EN, "en"), "never at these figures");
  assert.equal(paybackText(undefined, EN, "en"), "never at these figures");
  assert.equal(paybackText(14, JA, "ja"), "14.0日");
  assert.equal(paybackText(90, JA, "ja"), "3.0か月");
  assert.equal(paybackText(null, JA, "ja"), "この数値では回収できません");
  assert.equal(paybackText(40000, EN, "en"), `1,333.3${NBSP}months`);
});

check("number fields: numbers parsed, anything else sent as typed", () => {
  assert.equal(parseNumberField("80000"), 80000);
  assert.equal(parseNumberField(" 1,240.5 "), 1240.5);
  assert.equal(parseNumberField("８０，０００"), 80000);
  assert.equal(parseNumberField("1e3"), 1000);
  assert.equal(parseNumberField(".5"), 0.5);
  assert.equal(parseNumberField("-5"), -5);
  assert.equal(parseNumberField("abc"), "abc");
  assert.equal(parseNumberField("12abc"), "12abc");
  assert.equal(parseNumberField(""), "");
  assert.equal(parseNumberField("1e999"), "1e999");
  assert.equal(parseNumberField(undefined), "");
});

check("numbers as the form shows them", () => {
  assert.equal(inputText(300000), "300000");
  assert.equal(inputText(100 / 3), "33.33");
  assert.equal(inputText(2.45678), "2.457");
  assert.equal(inputText(12345.678), "12345.68");
  assert.equal(inputText(0.000042), "0.000042");
  assert.equal(inputText(null), "");
});

check("the POST /api/simulate body", () => {
  const input = {
    currency: "USD",
    monthly_api_spend: 3000,
    prices: { "gpt-4o": { input: 2.5, output: 10 } },
    tokens_per_request: null,
  };
  const values = {
    currency: "JPY",
    monthly_api_spend: "300,000",
    mean_response_s: "abc",
    daily_requests: "1500",
    error_rate_percent: "2",
    cache_hit_rate_percent: "30",
    latency_reduction_percent: "50",
    error_reduction_percent: "50",
    model: "gpt-4o",
    switch_to: "",
    setup_hours: "40",
    hourly_rate: "10000",
    stack_monthly_cost: "20000",
    value_per_user_hour: "3000",
    cost_per_error: "",
  };
  const body = simBody(input, values);
  assert.deepEqual(Object.keys(body).sort(), [...FIELD_DEFS.map((f) => f.name), "prices"].sort());
  assert.equal(body.currency, "JPY");
  assert.equal(body.monthly_api_spend, 300000);
  assert.equal(body.mean_response_s, "abc");
  assert.equal(body.cost_per_error, "");
  assert.equal(body.model, "gpt-4o");
  assert.equal(body.switch_to, null);
  assert.deepEqual(body.prices, input.prices);
  assert.equal("tokens_per_request" in body, false);
  assert.equal(simBody({}, {}).currency, "USD");
});

check("error messages without the field name", () => {
  assert.equal(fieldMessage({ field: "mean_response_s", message: "mean_response_s must be a number of seconds above 0" }), "must be a number of seconds above 0");
  assert.equal(fieldMessage({ field: "daily_requests", message: "daily_requests: invalid type: string \"x\", expected f64" }), 'invalid type: string "x", expected f64');
  assert.equal(fieldMessage({ field: null, message: "boom" }), "boom");
  assert.equal(fieldMessage({ field: "model", message: "model" }), "model");
});

const months = (oneOff, benefit, running) =>
  Array.from({ length: 13 }, (_, m) => ({ month: m, cumulative_saving: m * benefit, cumulative_cost: oneOff + m * running }));

check("the payback crossing on the cumulative chart", () => {
  // ¥222,000 one-off, ¥93,750 benefit and ¥20,000 running a month: 3.01 months.
  const c = crossing(months(222000, 93750, 20000));
  assert.ok(Math.abs(c.month - 222000 / 73750) < 1e-9, String(c.month));
  assert.ok(Math.abs(c.value - c.month * 93750) < 1e-6);
  assert.equal(crossing(months(1000, 100, 200)), null);
  assert.deepEqual(crossing(months(0, 100, 10)), { month: 0, value: 0 });
  // Paid back after month 12: not on the chart.
  assert.equal(crossing(months(130000, 10000, 0)), null);
  assert.equal(crossing([]), null);
  assert.equal(crossing(undefined), null);
});

check("the chart's scales", () => {
  const sc = chartScale(months(13000 - 12000, 20000, 1000));
  assert.equal(sc.xMax, 12);
  assert.equal(sc.yMin, 0);
  assert.ok(sc.yMax >= 240000);
  assert.equal(sc.ticks[0], 0);
  assert.equal(sc.ticks[sc.ticks.length - 1], sc.yMax);
  assert.ok(sc.ticks.length >= 3 && sc.ticks.length <= 7, String(sc.ticks));
  const neg = chartScale(months(1000, -500, 100));
  assert.ok(neg.yMin <= -6000 && neg.yMin < 0);
  assert.ok(neg.ticks.includes(0));
  const empty = chartScale([]);
  assert.equal(empty.points.length, 0);
  assert.equal(empty.yMin, 0);
  assert.ok(empty.yMax > 0);
  assert.equal(empty.crossing, null);
});

check("the language: the browser's when none is chosen", () => {
  assert.equal(langFromNavigator("ja"), "ja");
  assert.equal(langFromNavigator("ja-JP"), "ja");
  assert.equal(langFromNavigator("JA"), "ja");
  assert.equal(langFromNavigator("en-US"), "en");
  assert.equal(langFromNavigator("fr"), "en");
  assert.equal(langFromNavigator(undefined), "en");
  assert.ok(["en", "ja"].includes(getLang()));
});

done();
