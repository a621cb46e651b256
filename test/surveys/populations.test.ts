import assert from "node:assert/strict";
import { before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { CivitasError } from "../../src/errors.js";
import { loadOpinionQA } from "../../src/surveys/opinionqa.js";
import { resolvePopulations, suiteAttributes } from "../../src/surveys/populations.js";
import type { Population, Suite } from "../../src/surveys/types.js";

const OPINIONQA_DIR = fileURLToPath(new URL("../../../shared/data/opinionqa", import.meta.url));

function ids(ps: readonly Population[]): string[] {
  return ps.map((p) => p.id);
}

function usageError(fn: () => unknown): CivitasError {
  try {
    fn();
  } catch (e) {
    assert.ok(e instanceof CivitasError, String(e));
    assert.equal(e.kind, "usage");
    return e;
  }
  assert.fail("expected a usage error");
}

let suite: Suite;
before(async () => {
  suite = await loadOpinionQA({ data: OPINIONQA_DIR, waves: ["W26"] });
});

describe("resolvePopulations on OpinionQA", () => {
  it("an attribute expands to all its populations, case-insensitively, in suite order", () => {
    const want = ["POLPARTY=Republican", "POLPARTY=Democrat", "POLPARTY=Independent", "POLPARTY=Other"];
    assert.deepEqual(ids(resolvePopulations(suite, ["POLPARTY"])), want);
    assert.deepEqual(ids(resolvePopulations(suite, ["polparty"])), want);
    assert.deepEqual(ids(resolvePopulations(suite, [" PolParty "])), want);
  });

  it("an exact population id, the attribute case-insensitive", () => {
    assert.deepEqual(resolvePopulations(suite, ["SEX=Female"]), [{ id: "SEX=Female", attribute: "SEX", value: "Female" }]);
    assert.deepEqual(ids(resolvePopulations(suite, ["sex=Female"])), ["SEX=Female"]);
    // A value differing only in case is accepted when it is unambiguous.
    assert.deepEqual(ids(resolvePopulations(suite, ["sex=female"])), ["SEX=Female"]);
    // Values containing commas and '=' signs in the value part are kept whole.
    assert.deepEqual(ids(resolvePopulations(suite, ["INCOME=$100,000 or more"])), ["INCOME=$100,000 or more"]);
    assert.deepEqual(ids(resolvePopulations(suite, ["EDUCATION=Some college, no degree"])), [
      "EDUCATION=Some college, no degree",
    ]);
  });

  it("overall", () => {
    assert.deepEqual(resolvePopulations(suite, ["overall"]), [{ id: "overall", attribute: null, value: "overall" }]);
    assert.deepEqual(ids(resolvePopulations(suite, ["OVERALL"])), ["overall"]);
  });

  it("removes duplicates and keeps first-mention order", () => {
    assert.deepEqual(ids(resolvePopulations(suite, ["SEX=Male", "overall", "SEX", "sex=male", "overall"])), [
      "SEX=Male",
      "overall",
      "SEX=Female",
    ]);
    assert.deepEqual(resolvePopulations(suite, []), []);
  });

  it("an unknown attribute lists the valid ones", () => {
    const e = usageError(() => resolvePopulations(suite, ["overall", "PARTY"]));
    assert.match(e.message, /unknown population "PARTY" in suite opinionqa/);
    assert.match(e.hint ?? "", /overall, CREGION, POLPARTY, AGE, EDUCATION, INCOME, POLIDEOLOGY, RACE, SEX/);
    const e2 = usageError(() => resolvePopulations(suite, ["PARTY=Democrat"]));
    assert.match(e2.message, /"PARTY=Democrat"/);
    assert.match(e2.hint ?? "", /POLPARTY/);
  });

  it("a known attribute with an unknown value lists that attribute's values", () => {
    const e = usageError(() => resolvePopulations(suite, ["POLPARTY=Green"]));
    assert.match(e.message, /POLPARTY has no value "Green"/);
    assert.match(e.hint ?? "", /values of POLPARTY: "Republican", "Democrat", "Independent", "Other"/);
    // Groups in the data but not listed in metadata.csv are not populations.
    const e2 = usageError(() => resolvePopulations(suite, ["RACE=Mixed Race"]));
    assert.match(e2.hint ?? "", /values of RACE: "White", "Black", "Asian", "Hispanic", "Other";/);
    usageError(() => resolvePopulations(suite, ["POLPARTY="]));
  });

  it("a bare value suggests the full id", () => {
    const e = usageError(() => resolvePopulations(suite, ["Democrat"]));
    assert.match(e.hint ?? "", /did you mean POLPARTY=Democrat\?/);
    const e2 = usageError(() => resolvePopulations(suite, ["Other"]));
    assert.match(e2.hint ?? "", /did you mean POLPARTY=Other or RACE=Other\?/);
  });
});

describe("resolvePopulations on any suite", () => {
  const pops: Population[] = [
    { id: "country=Japan", attribute: "country", value: "Japan" },
    { id: "country=Brazil", attribute: "country", value: "Brazil" },
    { id: "country=brazil", attribute: "country", value: "brazil" },
  ];
  const tiny: Suite = {
    name: "tiny",
    title: "tiny",
    location: "-",
    fingerprint: "-",
    questions: [],
    populations: pops,
    reference: null,
    defaultMetric: "tv",
    human: () => undefined,
  };

  it("works without an overall population", () => {
    assert.deepEqual(suiteAttributes(tiny), ["country"]);
    assert.deepEqual(ids(resolvePopulations(tiny, ["COUNTRY"])), ["country=Japan", "country=Brazil", "country=brazil"]);
    assert.deepEqual(ids(resolvePopulations(tiny, ["Country=Japan"])), ["country=Japan"]);
    const e = usageError(() => resolvePopulations(tiny, ["overall"]));
    assert.match(e.hint ?? "", /valid: country, or ATTRIBUTE=value/);
  });

  it("an exact value wins; an ambiguous case-insensitive value is an error", () => {
    assert.deepEqual(ids(resolvePopulations(tiny, ["country=brazil"])), ["country=brazil"]);
    assert.deepEqual(ids(resolvePopulations(tiny, ["country=Brazil"])), ["country=Brazil"]);
    usageError(() => resolvePopulations(tiny, ["country=BRAZIL"]));
  });
});

describe("splitPopulationList", () => {
  it("splits on commas but keeps the commas inside values", async () => {
    const { splitPopulationList } = await import("../../src/surveys/populations.js");
    assert.deepEqual(splitPopulationList("POLPARTY,SEX"), ["POLPARTY", "SEX"]);
    assert.deepEqual(splitPopulationList("INCOME=$100,000 or more,SEX=Female"), ["INCOME=$100,000 or more", "SEX=Female"]);
    assert.deepEqual(splitPopulationList("EDUCATION=Some college, no degree,overall"), ["EDUCATION=Some college, no degree", "overall"]);
    assert.deepEqual(splitPopulationList(" POLPARTY , ,SEX "), ["POLPARTY", "SEX"]);
  });
});
