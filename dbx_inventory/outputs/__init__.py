"""Everything a run keeps: the checkpoint journal, the CSVs, the HTML report, the Spark
table, all written atomically. Stands on scan (rows) and, for the table, runners.spark.
"""
