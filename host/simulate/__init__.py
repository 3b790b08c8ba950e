"""The site simulation: a whole site (`*.site.yaml`, docs/sites.md) run for days or months on
the emulated devices with the access server and the physics, and the reports an operator
reads (`keylock simulate`).

  model    the parsed site file            sitefile  parsing it, with line-numbered errors
  plan     who does what when, from a seed run       the run on an EmulatedSite
  record   what a run saw (the reports' input)
  booking  battery-change jobs in service windows
  battery_pdf / report_html   the weekly PDFs and the HTML report
  ensemble the same site over seeds and variants, on Dask
"""
