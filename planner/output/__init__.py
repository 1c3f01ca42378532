"""Output layer: the workbook's sheets, the safe writer, the Sankey picture and the generated docs."""
