"""The report consistency check (toolkit.report.consistency) on generated companies.

    python benchmarks/consistency_generated.py --companies 50 --seed 5

Draws ``--companies`` companies (half with one planted effect, effects in turn, half null; 3-5
phases; 4,000-12,000 records) with :func:`toolkit.datasets.generate_planted_company`, each written
as an export of one of :data:`toolkit.datasets.EXPORT_FAMILIES` in turn (the tidy history, no
amounts, no lost records, one-instant stamps, date-only stamps, a snapshot) and loaded from its
YAML; every tenth (one of the null ones) is a declared change under a mix shift instead
(:func:`toolkit.datasets.generate_mix_shift_change`); runs the
seven steps on each with library calls, and counts the contradictions the check finds between the
stored values every page, figure and workbook cell renders. The check reads values, not prose, so
one run serves both languages; the conclusions must say as much in both (a step that concludes
in one language only is counted too). Prints one line per company with a contradiction and a summary line.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import warnings

import numpy as np


def main() -> None:
    from toolkit import Engagement
    from toolkit.datasets import (
        EXPORT_FAMILIES,
        PLANTED_EFFECTS,
        generate_mix_shift_change,
        generate_planted_company,
        write_planted_export,
    )
    from toolkit.report.consistency import check_consistency
    from toolkit.steps import run_all

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--companies", type=int, default=50)
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    effects = list(PLANTED_EFFECTS)
    started, failing, codes = time.perf_counter(), 0, {}
    for k in range(args.companies):
        planted = (effects[k // 2 % len(effects)],) if k % 2 == 0 else ()
        n_records = int(rng.choice([4000, 8000, 12000]))
        company = generate_planted_company(
            effects=planted, n_records=n_records,
            n_phases=int(rng.integers(3, 6)), seed=int(rng.integers(1_000_000)))
        family = EXPORT_FAMILIES[k % len(EXPORT_FAMILIES)]
        with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if k % 10 == 9:  # a declared change under a mix shift (tables, as generated)
                family, planted = "mix change", ("mix_change",)
                company = generate_mix_shift_change(k, n_records=n_records)
                engagement = Engagement.from_tables(
                    company.events, company.records,
                    phases=[{"key": p, "label": p} for p in company.phases],
                    as_of=company.as_of, segments=["region"], changes=company.changes,
                    targets={"orders_per_month": 20})
            else:  # the company as an export of one of the families, loaded from its YAML
                engagement = Engagement.from_yaml(write_planted_export(
                    company, folder, family=family,
                    settings={"targets": {"orders_per_month": 20}}))
            results = run_all(engagement)
        found = check_consistency(results)
        # both languages say as much: a step may conclude nothing, but never in one language only
        written = all(len(result.conclusions("en")) == len(result.conclusions("nl"))
                      for result in results.values())
        if len(found) or not written:
            failing += 1
            for code in found["code"]:
                codes[code] = codes.get(code, 0) + 1
            print(f"company {k} ({'+'.join(planted) or 'null'}, {family}): "
                  f"{found['code'].tolist()}{'' if written else ' (conclusions missing)'}")
    print(f"{args.companies} companies, {failing} with a contradiction {codes or ''}; "
          f"{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
