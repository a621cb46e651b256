/**
 * The pieces under the report pages, without a model: hover titles from Vega's ARIA labels,
 * escaping through the renderer, question texts read back from prompts, the recorded --data path,
 * series across seeds, and how pages become one document.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { addMarkTitles, chart, html, reportDocument } from "../../src/report/index.js";
import { seriesAcrossSeeds } from "../../src/report/sections/sim.js";
import { dataFlagOf, questionFromPrompt } from "../../src/report/sections/sources.js";
import { wilsonInterval } from "../../src/metrics/intervals.js";
import { tInterval } from "../../src/sim/index.js";
import { NO_PERSONA, parseVariant, renderPrompt, STANDARD_VARIANT } from "../../src/surveys/index.js";
import type { Question } from "../../src/surveys/index.js";

const HOSTILE = "<script>alert(1)</script> & \"quotes\" 'too'";

describe("chart", () => {
  it("renders a point per datum as SVG, each with a <title> holding its escaped description", async () => {
    const svg = (
      await chart(
        {
          data: { values: [{ x: 0.2, y: 0.4, tip: HOSTILE }, { x: 0.5, y: 0.1, tip: "plain" }] },
          mark: "point",
          encoding: { x: { field: "x", type: "quantitative" }, y: { field: "y", type: "quantitative" }, description: { field: "tip" } },
        },
        "t<e>st",
      )
    ).value;
    assert.match(svg, /^<div class="chart" data-chart="test"><svg /u);
    assert.equal(svg.match(/aria-roledescription="point"/gu)?.length, 2);
    assert.equal(svg.match(/<title>/gu)?.length, 2, "one title per point, none on the axes");
    assert.ok(svg.includes("<title>&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;quotes&quot; 'too'</title>"), svg.slice(-800));
    assert.ok(!/<script/iu.test(svg));
  });

  it("leaves axes, legends and marks without a label alone", () => {
    const svg =
      '<g role="graphics-symbol" aria-roledescription="axis" aria-label="X-axis"><line x2="1"/></g>' +
      '<path aria-label="a &lt;b&gt;" role="graphics-symbol" aria-roledescription="bar" d="M0,0h1"/>' +
      '<path class="background" aria-hidden="true" d="M0,0"/>' +
      '<path aria-label="legend" role="graphics-symbol" aria-roledescription="legend" d="M0"/>';
    assert.equal(
      addMarkTitles(svg),
      '<g role="graphics-symbol" aria-roledescription="axis" aria-label="X-axis"><line x2="1"/></g>' +
        '<path aria-label="a &lt;b&gt;" role="graphics-symbol" aria-roledescription="bar" d="M0,0h1"><title>a &lt;b&gt;</title></path>' +
        '<path class="background" aria-hidden="true" d="M0,0"/>' +
        '<path aria-label="legend" role="graphics-symbol" aria-roledescription="legend" d="M0"/>',
    );
  });

  it("escapes text in axis labels", async () => {
    const svg = (await chart({ data: { values: [{ p: HOSTILE, v: 1 }] }, mark: "bar", encoding: { y: { field: "p", type: "nominal" }, x: { field: "v", type: "quantitative" } } })).value;
    assert.ok(!/<script/iu.test(svg));
    assert.ok(svg.includes("&lt;script&gt;alert(1)&lt;/script&gt;"));
  });
});

describe("question texts from prompts", () => {
  const q: Question = {
    id: "Q",
    text: "How safe is it? Would you say it is",
    options: ["Very safe", "Not safe (at all)", "Refused"],
    refusal: [false, false, true],
    ordinals: [1, 2],
  };
  it("reads the question back from every template, with or without a persona", () => {
    const persona = { id: "P", text: "Answer as someone who votes Democrat." };
    for (const template of ["opinionqa", "survey", "choose"]) {
      const variant = template === "opinionqa" ? STANDARD_VARIANT : parseVariant(`template=${template}`);
      for (const p of [NO_PERSONA, persona]) {
        const prompt = renderPrompt(q, variant, p).text;
        assert.equal(questionFromPrompt(prompt, q.options), q.text, `${template} ${p.id}: ${prompt}`);
      }
    }
    const numbers = renderPrompt(q, parseVariant("labels=numbers,order=reversed")).text;
    assert.equal(questionFromPrompt(numbers, q.options), q.text);
  });

  it("finds the --data a run recorded", () => {
    assert.equal(dataFlagOf("civitas eval opinionqa --model llama:m.gguf --data ../shared/data/opinionqa --limit 5"), "../shared/data/opinionqa");
    assert.equal(dataFlagOf("civitas eval custom --data=my.csv"), "my.csv");
    assert.equal(dataFlagOf('civitas eval custom --data "my survey.csv" -n 3'), "my survey.csv");
    assert.equal(dataFlagOf("civitas eval opinionqa --model x"), undefined);
  });
});

describe("series across seeds", () => {
  it("takes the mean and t-interval per step, carrying a converged seed's last value forward and leaving out stopped ones", () => {
    const rows = [
      // seed 1 converged at step 1
      { point: 0, seed: 1, step: 0, metric: "m", value: 0 },
      { point: 0, seed: 1, step: 1, metric: "m", value: 1 },
      { point: 0, seed: 2, step: 0, metric: "m", value: 0.5 },
      { point: 0, seed: 2, step: 1, metric: "m", value: 0.5 },
      { point: 0, seed: 2, step: 2, metric: "m", value: 0.8 },
      { point: 0, seed: 3, step: 0, metric: "m", value: 100 },
      { point: 0, seed: 3, step: 2, metric: "m", value: 100 },
    ];
    const { byMetric, range, hasSeries } = seriesAcrossSeeds(rows, new Set(["0:3"]));
    assert.equal(hasSeries, true);
    const s = byMetric.get("m")!;
    assert.deepEqual(
      s.map((x) => [x.step, x.n]),
      [
        [0, 2],
        [1, 2],
        [2, 2],
      ],
    );
    const t = tInterval([1, 0.8]);
    assert.equal(s[2]!.mean, t.mean);
    assert.equal(s[2]!.lo, t.ci[0]);
    assert.equal(s[2]!.hi, t.ci[1]);
    assert.deepEqual(range.get("m"), [0, 1]);
    assert.equal(seriesAcrossSeeds([{ point: 0, seed: 1, step: 9, metric: "m", value: 1 }], new Set()).hasSeries, false);
  });

  it("bands a 0/1 metric with the Wilson interval, as the summaries do (never outside [0, 1])", () => {
    // 1 of 3 seeds in consensus at step 4: Student's t would give [-0.101, 1.101].
    const rows = [1, 2, 3].map((seed) => ({ point: 0, seed, step: 4, metric: "consensus", value: seed === 2 ? 1 : 0 }));
    const band = seriesAcrossSeeds(rows, new Set()).byMetric.get("consensus")![0]!;
    const w = wilsonInterval(1, 3);
    assert.equal(band.lo, w.ci[0]);
    assert.equal(band.hi, w.ci[1]);
    assert.ok(tInterval([0, 1, 0]).ci[0] < 0);
  });
});

describe("reportDocument", () => {
  it("gives one page as it is, several with links to each (escaped titles)", () => {
    const one = reportDocument([{ title: "A <b>", body: html`<p>x</p>` }]);
    assert.match(one, /<title>A &lt;b&gt;<\/title>/u);
    assert.ok(!one.includes("<nav>"));
    const two = reportDocument([
      { title: "first", body: html`<p>1</p>` },
      { title: "second <i>", subtitle: "s & t", body: html`<p>2</p>` },
    ]);
    assert.match(two, /<nav><a href="#page-1">first<\/a><a href="#page-2">second &lt;i&gt;<\/a><\/nav>/u);
    assert.match(two, /<article id="page-2" style="break-before: page[^"]*"><h1>second &lt;i&gt;<\/h1><p class="muted">s &amp; t<\/p>/u);
  });
});
